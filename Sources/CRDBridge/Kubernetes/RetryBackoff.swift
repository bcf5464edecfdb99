/// How long to wait before retrying after consecutive failures: exponential, capped, and jittered
/// so that many bridges restarted together do not hit the API server in step.
///
/// The defaults are client-go's reflector backoff (0.8 s doubling to 30 s).
public struct RetryBackoff: Sendable, Hashable {
  public var initial: Duration
  public var maximum: Duration
  public var multiplier: Double

  public init(
    initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), multiplier: Double = 2
  ) {
    self.initial = initial
    self.maximum = max(initial, maximum)
    self.multiplier = max(1, multiplier)
  }

  /// The un-jittered delay after `failures` consecutive failures (1 → `initial`), at most `maximum`.
  public func base(failures: Int) -> Duration {
    guard failures > 0 else { return .zero }
    var d = initial
    for _ in 1..<min(failures, 64) {
      d = d * multiplier
      if d >= maximum { return maximum }
    }
    return min(d, maximum)
  }

  /// The delay to wait: uniformly in [base/2, base] ("equal jitter"), `unit` being a random number
  /// in 0..<1, so the cap holds and no retry is immediate.
  public func delay(failures: Int, unit: Double) -> Duration {
    let b = base(failures: failures)
    return b / 2 + (b / 2) * min(max(unit, 0), 1)
  }

  public func delay(failures: Int) -> Duration {
    delay(failures: failures, unit: Double.random(in: 0..<1))
  }
}
