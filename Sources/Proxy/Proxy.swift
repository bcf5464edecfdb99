/// The data plane's log: listeners up, sessions failed, shutdown.
import Logging

let proxyLogger = Logger(label: "l7mp.proxy")
