import NIOCore

/// Ends the idle sessions of one event loop with one timer for all of them (a timer per session
/// cost a scheduled task, a promise and two closures each). A sweep every quarter of the
/// shortest idle timeout among them (between 5 ms and 1 s) ends those idle for their timeout, so
/// a session ends at most that long after its timeout has passed.
///
/// Confined to its event loop (`EventLoopIO`).
final class IdleSweeper: @unchecked Sendable {
  static let longestPeriod = TimeAmount.seconds(1)
  static let shortestPeriod = TimeAmount.milliseconds(5)

  private let eventLoop: any EventLoop
  private var sessions: [Session] = []
  private var period = IdleSweeper.longestPeriod
  private var task: Scheduled<Void>?

  init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

  var count: Int { sessions.count }

  static func period(for timeout: TimeAmount) -> TimeAmount {
    min(max(.nanoseconds(timeout.nanoseconds / 4), shortestPeriod), longestPeriod)
  }

  func add(_ session: Session) {
    session.sweepIndex = sessions.count
    sessions.append(session)
    let p = Self.period(for: session.idleTimeout)
    if task == nil || p < period {
      period = p
      schedule()
    }
  }

  func remove(_ session: Session) {
    let i = session.sweepIndex
    guard i >= 0, i < sessions.count, sessions[i] === session else { return }
    let last = sessions.removeLast()
    if i < sessions.count {
      sessions[i] = last
      last.sweepIndex = i
    }
    session.sweepIndex = -1
    if sessions.isEmpty {
      task?.cancel()
      task = nil
    }
  }

  private func schedule() {
    task?.cancel()
    task = eventLoop.scheduleTask(in: period) { [self] in sweep() }
  }

  private func sweep() {
    task = nil
    let now = NIODeadline.now()
    var expired: [Session] = []
    var next = Self.longestPeriod
    for s in sessions {
      if now - s.lastActivity >= s.idleTimeout {
        expired.append(s)
      } else {
        next = min(next, Self.period(for: s.idleTimeout))
      }
    }
    for s in expired { s.idleExpired() }
    period = next
    if !sessions.isEmpty && task == nil { schedule() }
  }
}
