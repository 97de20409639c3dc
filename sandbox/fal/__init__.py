"""fal queue API emulator."""
