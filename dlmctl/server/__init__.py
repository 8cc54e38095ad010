"""``dlmctl serve``: the Python API over HTTP (:mod:`dlmctl.server.app`) and a playground page
(``page.html``) that shows sentences forming under controls."""
