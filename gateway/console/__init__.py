"""The web console at `/console`: server-rendered pages over the admin and finance functions, for people."""
