"""Controller process entry point: ``python -m controller.launcher SETTINGS.json``.

os-ken 4.x has no ``osken-manager`` command, so this starts the app itself:
configure os-ken's OpenFlow listener on 127.0.0.1, instantiate the app, wait
for SIGTERM/SIGINT.  os-ken's native hub threads cannot be killed (its
``HubThread`` has no ``kill()``), so shutdown closes the app (stopping the
registry and flushing the change log) and then ends the process with
``os._exit``, which is clean: nothing else is left to flush.
"""

import logging
import os
import signal
import sys
import threading


def main(argv):
    if len(argv) != 1:
        print("usage: python -m controller.launcher SETTINGS.json", file=sys.stderr)
        return 2
    settings_path = os.path.abspath(argv[0])
    os.environ["EMU_CONTROLLER_SETTINGS"] = settings_path
    from controller.settings import ControllerSettings

    settings = ControllerSettings.read(settings_path)
    logging.basicConfig(filename=os.path.join(settings.out_dir, "controller.log"),
                        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager

    cfg.CONF(args=["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(settings.of_port)],
             project="os_ken")
    manager = AppManager.get_instance()
    manager.load_apps(["controller.app"])
    contexts = manager.create_contexts()
    manager.instantiate_apps(**contexts)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    try:
        manager.close()
    finally:
        logging.shutdown()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
