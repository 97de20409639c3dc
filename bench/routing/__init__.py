"""The routing simulation's parts: its workload and emulator setup, the hindsight oracle, the report."""
