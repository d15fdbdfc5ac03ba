"""The Ryu application API, from os-ken (maintained) or classic Ryu.

Ryu 4.34 no longer runs on Python >= 3.10 (its eventlet pin fails), so the
controller runs on os-ken, OpenStack's fork with the same API; the app also
loads under ``ryu-manager`` where Ryu still works.
"""

try:
    from os_ken.base import app_manager
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER,
                                           set_ev_cls)
    from os_ken.ofproto import ofproto_v1_3
except ImportError:  # classic Ryu
    from ryu.base import app_manager
    from ryu.controller import ofp_event
    from ryu.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER,
                                        set_ev_cls)
    from ryu.ofproto import ofproto_v1_3

    app_manager.OSKenApp = app_manager.RyuApp   # the app subclasses OSKenApp

__all__ = ["app_manager", "ofp_event", "ofproto_v1_3", "set_ev_cls",
           "CONFIG_DISPATCHER", "MAIN_DISPATCHER", "DEAD_DISPATCHER"]
