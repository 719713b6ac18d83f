"""``python -m gwtui``."""

from gwtui.main import main

main()
