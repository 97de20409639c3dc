"""The videogenapi emulator: routes and its monthly and hourly counters in `app`, job model in `jobs`."""
