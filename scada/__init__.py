"""GridWorks SpaceHeat SCADA: the headless runtime, a library first."""
