import Config
import ControlClient
import Foundation
import Logging

/// `l7mp bridge --manifests DIR`: keeps every proxy the manifests select in step with them.
///
/// Each pass reads the manifests, translates them, and reconciles every pod of every proxy set
/// (its control API at `podIP:apiPort`). A pass runs when the files change (polled) and at least
/// every `resyncInterval`, so a proxy that restarted is configured again. Manifests with errors
/// change nothing: the proxies keep the last good configuration and the errors are logged.
public struct ManifestBridge: Sendable {
  public var paths: [String]
  /// The port of every proxy's control API.
  public var apiPort: Int
  public var token: String?
  public var pollInterval: Duration
  public var resyncInterval: Duration
  public var logger: Logger

  public init(
    paths: [String], apiPort: Int = AdminConfig.defaultPort, token: String? = nil,
    pollInterval: Duration = .seconds(1), resyncInterval: Duration = .seconds(10), logger: Logger
  ) {
    self.paths = paths
    self.apiPort = apiPort
    self.token = token
    self.pollInterval = pollInterval
    self.resyncInterval = resyncInterval
    self.logger = logger
  }

  /// What one pass found and did.
  public struct Pass: Sendable {
    /// Manifest problems: unreadable files and the translation's diagnostics, as text.
    public var diagnostics: [String]
    public var errors: Int
    /// One per pod reached or tried; empty when the manifests had errors.
    public var outcomes: [ReconcileOutcome]

    public var converged: Bool { errors == 0 && outcomes.allSatisfy(\.converged) }
  }

  /// Reads, translates, reconciles once.
  public func pass() async -> Pass {
    var known: [String: String] = [:]
    return await pass(known: &known)
  }

  func pass(known: inout [String: String]) async -> Pass {
    let read = ManifestFiles.read(paths)
    return await Self.pass(
      files: read.files, problems: read.problems, apiPort: apiPort, token: token, logger: logger,
      known: &known)
  }

  /// Translates `files` (manifests, or objects from the Kubernetes API as JSON) and reconciles
  /// every pod of every proxy set. With problems or errors, changes nothing.
  ///
  /// `known` (pod → IP) carries the proxies earlier passes configured: one that no VirtualService
  /// selects any more is emptied (its listeners, clusters and rule sources deleted), since nothing
  /// else would ever tell it.
  public static func pass(
    files: [(name: String, bytes: [UInt8])], problems: [String], apiPort: Int, token: String?,
    logger: Logger, known: inout [String: String]
  ) async -> Pass {
    let translation = Bridge.translate(files)
    var pass = Pass(
      diagnostics: problems + translation.diagnostics.all.map(\.description),
      errors: problems.count + translation.diagnostics.errorCount, outcomes: [])
    for d in pass.diagnostics { logger.warning("\(d)") }
    guard pass.errors == 0 else {
      logger.error("the manifests have \(pass.errors) error(s): nothing was changed")
      return pass
    }
    var targets: [(target: any ReconcileTarget, desired: ProxyConfig)] = []
    var selected: [String: String] = [:]
    func target(_ name: String, _ ip: String) -> ProxyTarget {
      ProxyTarget(name: name, client: ControlClient(host: ip, port: apiPort, token: token))
    }
    for set in translation.proxySets {
      for pod in set.pods {
        guard let ip = pod.ip else {
          logger.info("pod \(pod.namespace)/\(pod.name) has no IP yet; skipped")
          continue
        }
        let name = "\(pod.namespace)/\(pod.name)"
        selected[name] = ip
        targets.append((target(name, ip), set.config))
      }
    }
    let released = known.filter { selected[$0.key] == nil }
    for (name, ip) in released.sorted(by: { $0.key < $1.key }) {
      logger.info("\(name) is no longer selected by any VirtualService: emptying it")
      targets.append((target(name, ip), ProxyConfig()))
    }
    pass.outcomes = await Reconciler.reconcile(targets, logger: logger)
    // A released proxy is tried again by the next pass until emptying it worked.
    known = selected
    for (name, ip) in released {
      let outcome = pass.outcomes.first { $0.target == target(name, ip).displayName }
      if outcome?.converged != true { known[name] = ip }
    }
    return pass
  }

  static func log(_ p: Pass, _ logger: Logger) {
    let changes = p.outcomes.reduce(0) { $0 + $1.applied.count }
    logger.info(
      "pass: \(p.outcomes.count) proxies, \(changes) changes, \(p.converged ? "in step" : "not in step")"
    )
  }

  /// Passes until the task is cancelled.
  public func run() async {
    var last: [String]? = nil
    var known: [String: String] = [:]
    var lastPass = ContinuousClock.now
    while !Task.isCancelled {
      let now = ContinuousClock.now
      let fingerprint = ManifestFiles.fingerprint(paths)
      if fingerprint != last || now - lastPass >= resyncInterval {
        if last != nil && fingerprint != last { logger.info("manifests changed") }
        last = fingerprint
        lastPass = now
        Self.log(await pass(known: &known), logger)
      }
      try? await Task.sleep(for: pollInterval)
    }
  }
}
