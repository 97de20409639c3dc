"""Provider adapters, their shared contract and the sandbox emulators. Knows nothing of serving or routing."""
