"""The asyncio actors that join layout, drivers, control, the uplink and the local API."""
