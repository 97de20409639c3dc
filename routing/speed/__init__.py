"""Observed time to video per provider and model: the moving averages, per process or shared through Redis."""
