"""The VideoGen emulator: routes in `app`, job model and rate windows in `jobs`."""
