import Config

/// One control-API call the reconciler makes on a proxy.
public enum ReconcileStep: Sendable, Hashable, CustomStringConvertible {
  case addRulelist(RulelistConfig)
  case replaceRulelist(RulelistConfig)
  case deleteRulelist(String)
  case addCluster(ClusterConfig)
  case replaceCluster(ClusterConfig)
  case deleteCluster(String)
  case addListener(ListenerConfig)
  case replaceListener(ListenerConfig)
  case deleteListener(String)

  /// `PUT rulelist gateway`, as the bridge logs it.
  public var description: String {
    switch self {
    case .addRulelist(let r): return "POST rulelist \(r.name)"
    case .replaceRulelist(let r): return "PUT rulelist \(r.name)"
    case .deleteRulelist(let n): return "DELETE rulelist \(n)"
    case .addCluster(let c): return "POST cluster \(c.name)"
    case .replaceCluster(let c): return "PUT cluster \(c.name)"
    case .deleteCluster(let n): return "DELETE cluster \(n)"
    case .addListener(let l): return "POST listener \(l.name)"
    case .replaceListener(let l): return "PUT listener \(l.name)"
    case .deleteListener(let n): return "DELETE listener \(n)"
    }
  }
}

/// The smallest set of control-API calls that turns what a proxy reports into what it should run.
///
/// - Objects that are equal are left alone, so their live sessions survive.
/// - A changed object is replaced in place (PUT), never deleted and re-added: a rulelist swap
///   takes effect for the next packet and keeps the sessions it does not affect.
/// - Order keeps every intermediate state valid: clusters come before the rule sources that route
///   to them, rule sources before the listeners that run them; removal goes the other way
///   (listeners, then rule sources, then clusters), so nothing in use is ever deleted.
/// - Applying the plan and planning again gives no steps (idempotent), so after a proxy restarts
///   (and reports nothing) the next pass re-creates everything.
public enum ReconcilePlan {
  public static func steps(from actual: ProxyConfig, to desired: ProxyConfig) -> [ReconcileStep] {
    var steps: [ReconcileStep] = []
    let rulelists = diff(actual.rulelists, desired.rulelists, name: \.name)
    let clusters = diff(actual.clusters, desired.clusters, name: \.name)
    let listeners = diff(actual.listeners, desired.listeners, name: \.name)

    steps += clusters.added.map(ReconcileStep.addCluster)
    steps += clusters.changed.map(ReconcileStep.replaceCluster)
    steps += rulelists.added.map(ReconcileStep.addRulelist)
    steps += rulelists.changed.map(ReconcileStep.replaceRulelist)
    steps += listeners.removed.map(ReconcileStep.deleteListener)
    steps += listeners.added.map(ReconcileStep.addListener)
    steps += listeners.changed.map(ReconcileStep.replaceListener)
    steps += rulelists.removed.map(ReconcileStep.deleteRulelist)
    steps += clusters.removed.map(ReconcileStep.deleteCluster)
    return steps
  }

  /// Objects only in `desired` (in its order), in both but different (in `desired`'s order), and
  /// names only in `actual` (in its order).
  static func diff<T: Equatable>(_ actual: [T], _ desired: [T], name: (T) -> String) -> (
    added: [T], changed: [T], removed: [String]
  ) {
    var current: [String: T] = [:]
    for a in actual { current[name(a)] = a }
    var added: [T] = []
    var changed: [T] = []
    var wanted = Set<String>()
    for d in desired {
      let n = name(d)
      guard wanted.insert(n).inserted else { continue }
      if let c = current[n] {
        if c != d { changed.append(d) }
      } else {
        added.append(d)
      }
    }
    let removed = actual.map(name).filter { !wanted.contains($0) }
    return (added, changed, removed)
  }
}
