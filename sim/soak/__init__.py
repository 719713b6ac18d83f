"""The soak: a simulated week of the largest house at full speed, a fault every simulated hour.

``sim soak [--days 7] [--speed 600]`` (``make soak``; ``make bench`` through
``bench/bench_soak.py``; a shortened form in ``tests/soak``) runs a real mosquitto,
``scada serve --sim`` of ``hw25.isone.me.versant.keene.beech`` (at a coarser fidelity, below)
and the simulated ATN as real processes, and injects a fault every simulated hour: broker
restart, meter timeout, sensor stuck, ATN silent, consoles attaching and dropping, and once a
simulated day a SIGKILL of ``scada serve`` and a restart on the same data dir. Then it checks
that nothing acknowledged was lost or sent again, that every fault was reported and recovered,
and that RSS grew less than 5 % after the first day (:mod:`sim.soak.checks` defines each
precisely).

Design choices:

* **One simulated time for every process** (:mod:`sim.soak.simtime`): ``scada serve`` and the
  ATN take hidden ``--speed N --sim-start ISO --sim-anchor T`` options and run on a
  :class:`~scada.clock.VirtualTimeLoop` anchored at CLOCK_MONOTONIC ``T``, so simulated time is
  ``start + (monotonic - T) * N`` everywhere, and a restarted ``scada serve`` carries on from
  where the killed one was. Without the options nothing changes.
* **Faults inside the SCADA** travel in a plan file (``--sim-faults``, :mod:`sim.soak.plan`)
  that the emulation applies on its own clock (:mod:`sim.soak.inject`): every pass applies the
  faults whose window covers *now*, so a restart mid-window re-applies them. Meter timeout =
  the emulated Modbus TCP server answers nothing; sensor stuck = a DS18B20 gone from the
  1-Wire bus (its read finds nothing). Both use what the emulation already had.
* **Faults from outside** are done by the orchestrator (:mod:`sim.soak.orchestrator`) on real
  processes: mosquitto stopped and started on its port, the ATN process SIGSTOPped and
  SIGCONTed, consoles aborting their connection (one in the middle of a frame), SIGKILL.
* **Evidence** comes from three places that survive a SIGKILL: the ATN's journal of what it
  received and acknowledged (:mod:`sim.soak.journal`), the outbox on disk sampled every hour
  and after each kill, and a console that stays attached (re-attaching after restarts) and
  records mode and problem events (:mod:`sim.soak.console`). Times are CLOCK_MONOTONIC
  readings in every process, placed against the faults' windows.
* **Fidelity** (:data:`sim.soak.orchestrator.FIDELITY`, :mod:`sim.fidelity`): ``scada serve``
  and the ATN run a copy of the house file written to the work dir (``--layout``) in which no
  channel is sampled more often than every 120 s, no flow meter gives more than 2 pulses a
  gallon, and no Modbus device has less than 30 s to answer — what the month walkthrough uses,
  plus the timeout. Every driver timeout, stale threshold and heartbeat timeout is in simulated
  seconds: at 600x the meter's own 3 s timeout is 5 real milliseconds, and polling 38 channels
  every 1-5 s would cost most of a core. The physics keeps its 1 s step (it costs little).
* **Speed**: 600x by default, a week in about 17 minutes: "full speed" is the fastest at which
  the runtime keeps up with its real latencies at this fidelity — a fault-free stretch raises
  no problem on a 2-core machine (the ``spurious problems`` figures measure it). Starting a
  process is real time whatever the speed, so a SIGKILL's recovery is timed from the new
  process's attach. See README "Soak" for the figures of a full run.
"""
