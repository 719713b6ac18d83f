"""The local API: a Unix-socket server in the runtime and the plain-asyncio client consoles use."""
