import Prometheus

/// The runtime's counters, in its own Prometheus registry (not the process-wide metrics system,
/// so two runtimes in one test process count apart). Names follow Prometheus conventions:
/// `l7mp_<object>_<what>_total{<object>="name"}`.
final class ProxyMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()

  init() {}

  func listener(_ name: String) -> ListenerCounters { ListenerCounters(registry, name) }
  func cluster(_ name: String) -> ClusterCounters { ClusterCounters(registry, name) }

  func ruleMatches(rulelist: String, rule: String) -> Counter {
    registry.counter(
      "l7mp_rule_matches_total", [("rulelist", rulelist), ("rule", rule)],
      "Packets (or byte-stream connections) the rule matched")
  }

  func ruleVMSeconds(rulelist: String, rule: String) -> Counter {
    registry.counter(
      "l7mp_rule_vm_seconds_total", [("rulelist", rulelist), ("rule", rule)],
      "VM time spent on the packets the rule matched")
  }

  var text: String { registry.emitToString() }
}

/// Per listener: what came in, what was dropped and why, what the VM cost, the sessions.
final class ListenerCounters: Sendable {
  let packets: Counter
  let bytes: Counter
  let packetsOut: Counter
  let bytesOut: Counter
  let vmSeconds: Counter
  /// No rule matched, or a `drop` rule.
  let droppedByRules: Counter
  /// The route names a cluster that does not exist, the session failed, the message is too big…
  let droppedUndeliverable: Counter
  /// Malformed input: a bad upgrade, a bad frame.
  let droppedMalformed: Counter
  let sessionsActive: Gauge
  let sessionsCreated: Counter
  let sessionsFailed: Counter

  init(_ r: PrometheusCollectorRegistry, _ name: String) {
    let l = [("listener", name)]
    packets = r.counter("l7mp_listener_packets_total", l, "Messages received from clients")
    bytes = r.counter("l7mp_listener_bytes_total", l, "Bytes received from clients")
    packetsOut = r.counter("l7mp_listener_packets_out_total", l, "Messages sent back to clients")
    bytesOut = r.counter("l7mp_listener_bytes_out_total", l, "Bytes sent back to clients")
    vmSeconds = r.counter("l7mp_listener_vm_seconds_total", l, "Time spent evaluating rules")
    func drops(_ reason: String) -> Counter {
      r.counter(
        "l7mp_listener_drops_total", l + [("reason", reason)], "Messages dropped, by reason")
    }
    droppedByRules = drops("rules")
    droppedUndeliverable = drops("undeliverable")
    droppedMalformed = drops("malformed")
    sessionsActive = r.gauge("l7mp_sessions_active", l, "Live sessions")
    sessionsCreated = r.counter("l7mp_sessions_total", l, "Sessions created")
    sessionsFailed = r.counter(
      "l7mp_session_failures_total", l,
      "Sessions ended because an upstream could not be reached (after the retries)")
  }
}

/// Per cluster: traffic to and from its endpoints, connection attempts that failed.
final class ClusterCounters: Sendable {
  let packetsOut: Counter
  let bytesOut: Counter
  let packetsIn: Counter
  let bytesIn: Counter
  let connectFailures: Counter
  let disconnects: Counter

  init(_ r: PrometheusCollectorRegistry, _ name: String) {
    let l = [("cluster", name)]
    packetsOut = r.counter("l7mp_cluster_packets_sent_total", l, "Messages sent upstream")
    bytesOut = r.counter("l7mp_cluster_bytes_sent_total", l, "Bytes sent upstream")
    packetsIn = r.counter("l7mp_cluster_packets_received_total", l, "Messages received upstream")
    bytesIn = r.counter("l7mp_cluster_bytes_received_total", l, "Bytes received upstream")
    connectFailures = r.counter(
      "l7mp_cluster_connect_failures_total", l, "Connection attempts to an endpoint that failed")
    disconnects = r.counter(
      "l7mp_cluster_disconnects_total", l, "Upstream connections lost while a session used them")
  }
}

extension PrometheusCollectorRegistry {
  func counter(_ name: String, _ labels: [(String, String)], _ help: String) -> Counter {
    makeCounter(
      descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
      labels: labels)
  }

  func gauge(_ name: String, _ labels: [(String, String)], _ help: String) -> Gauge {
    makeGauge(
      descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
      labels: labels)
  }
}
