import Config
import Logging

/// A proxy as the reconciler sees it: what it runs now, and one control-API call at a time. The
/// control API client implements it for real proxies; tests use in-process ones.
public protocol ReconcileTarget: Sendable {
  /// How messages name it: `gateway-7f9c (127.0.0.1:1234)`.
  var displayName: String { get }
  /// The listeners, clusters and rule sources the proxy runs now.
  func currentConfig() async throws -> ProxyConfig
  func apply(_ step: ReconcileStep) async throws
}

/// What one reconcile pass did to one proxy.
public struct ReconcileOutcome: Sendable {
  public var target: String
  /// The calls that succeeded, in order.
  public var applied: [ReconcileStep]
  /// The first failure (reading the state, or a call); the pass stops there for this proxy and the
  /// next pass starts again from what the proxy then reports.
  public var failure: String?

  public var converged: Bool { failure == nil }
}

/// Brings proxies to their desired configuration: read, plan (`ReconcilePlan`), apply. Passes are
/// idempotent: a proxy already in step gets no calls, a restarted one (reporting nothing) gets
/// everything again, and a failure part-way is finished by the next pass.
public enum Reconciler {
  public static func reconcile(
    _ target: any ReconcileTarget, to desired: ProxyConfig, logger: Logger
  ) async -> ReconcileOutcome {
    var outcome = ReconcileOutcome(target: target.displayName, applied: [], failure: nil)
    let actual: ProxyConfig
    do {
      actual = try await target.currentConfig()
    } catch {
      outcome.failure = "cannot read the state of \(target.displayName): \(error)"
      logger.warning("\(outcome.failure!)")
      return outcome
    }
    for step in ReconcilePlan.steps(from: actual, to: desired) {
      do {
        try await target.apply(step)
        outcome.applied.append(step)
        logger.info("\(target.displayName): \(step)")
      } catch {
        outcome.failure = "\(target.displayName): \(step) failed: \(error)"
        logger.warning("\(outcome.failure!)")
        return outcome
      }
    }
    return outcome
  }

  /// Every proxy at once; one proxy's failure does not hold up the others.
  public static func reconcile(
    _ targets: [(target: any ReconcileTarget, desired: ProxyConfig)], logger: Logger
  ) async -> [ReconcileOutcome] {
    await withTaskGroup(of: (Int, ReconcileOutcome).self) { group in
      for (i, t) in targets.enumerated() {
        group.addTask { (i, await reconcile(t.target, to: t.desired, logger: logger)) }
      }
      var outcomes = [ReconcileOutcome?](repeating: nil, count: targets.count)
      for await (i, o) in group { outcomes[i] = o }
      return outcomes.map { $0! }
    }
  }
}
