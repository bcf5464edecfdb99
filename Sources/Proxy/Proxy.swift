/// The data plane (listeners, clusters, sessions, control API) arrives with issue 7.
import Logging

let proxyLogger = Logger(label: "l7mp.proxy")
