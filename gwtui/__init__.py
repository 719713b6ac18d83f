"""gwtui: the Textual commissioning and operations console of the GridWorks SpaceHeat SCADA.

It reaches the SCADA only through the local API (``scada.api.client``) and its wire models
(``scada.protocol``), so it runs over SSH against whatever runtime is serving the socket.
"""

__version__ = "0.1.0"
