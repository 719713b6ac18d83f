"""Bus emulators: the very driver code of a real house runs against these.

* :mod:`sim.buses.i2c` — an I2C bus behind smbus2's method signatures, with emulated MCP23008
  relay boards, PCF8575 (Krida) relay boards and ADS1115 thermistor ADCs;
* :mod:`sim.buses.one_wire` — a 1-Wire sysfs tree (``28-*/w1_slave``) in a folder;
* :mod:`sim.buses.gpio` — gpiozero mock pins for GPIO relays and pulse inputs;
* :mod:`sim.buses.modbus` — real pymodbus TCP and RTU servers answering for emulated meters
  (:mod:`sim.buses.modbus_meter`), the RTU one on an emulated RS-485 line
  (:mod:`sim.buses.rs485`);
* :mod:`sim.buses.machine` — :class:`~sim.buses.machine.EmulatedBuses`, the
  :class:`scada.drivers.buses.Buses` seam over all of them.

Each emulator can inject faults: no answer, garbage, a stuck bit, wrong values.
"""
