"""What the hub does, one module per use case: connect and manage connections
(``connections``), import orders (``imports``), push labels and settle them (``labels``), take shop
events (``events``), move a connection between states (``lifecycle``), the OAuth handshake
(``oauth``), forget old data (``retention``) and the job handlers that run them (``jobs``). Every
SQL statement they need lives in ``core.storage``."""
