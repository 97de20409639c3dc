"""The Vidgen v2 emulator: routes in `app`, job model in `jobs`."""
