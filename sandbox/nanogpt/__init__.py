"""The NanoGPT emulator: routes in `app`, job model in `jobs`, error replies in `errors`."""
