import Config
import NIOCore
import RuleLang
import VM

/// Which session a message of a flow belongs to: the rule that matched and the route it names.
/// A rulelist swap that keeps a rule's name and route keeps its sessions.
struct SessionKey: Hashable {
  let rule: String
  let route: RouteInfo
}

/// One client of a listener (a UDP 4-tuple, a WebSocket or stream connection) and the sessions
/// its messages opened, one per verdict. Confined to the listener's event loop.
final class Flow: @unchecked Sendable {
  let listener: ListenerRuntime
  let source: String
  let eventLoop: any EventLoop
  let reply: (ByteBuffer) -> Void
  /// The UDP listener's write batch, shared by the flow's sessions (nil: every write is flushed).
  let batch: WriteBatch?
  /// Called when the last session ends (the listener forgets the flow).
  var onEmpty: ((Flow) -> Void)?
  /// Called when a session ends (stream listeners close the client connection).
  var onSessionClosed: ((Session) -> Void)?

  private(set) var sessions: [SessionKey: Session] = [:]
  /// The last verdict's session: a flow whose packets keep matching one rule skips the lookup.
  /// The rules are held (not just their identity), so a replaced program's memory cannot be
  /// reused by its successor and pass for it.
  private var cachedRules: CompiledRules?
  private var cachedRule: Int32 = -1
  private var cachedSession: Session?

  init(
    listener: ListenerRuntime, source: String, eventLoop: any EventLoop, batch: WriteBatch? = nil,
    reply: @escaping (ByteBuffer) -> Void
  ) {
    self.listener = listener
    self.source = source
    self.eventLoop = eventLoop
    self.batch = batch
    self.reply = reply
  }

  /// Sends `buffer` on per `verdict`: to the session of its route (opened when new; its metadata
  /// from `metadata()`, called only then, while the evaluation's rewrites are valid), or drops it
  /// (counted). Returns the session, or nil when dropped. `send: false` only opens the session (a
  /// stream connection's setup, which has no message to pass on).
  @discardableResult
  func dispatch(
    _ buffer: ByteBuffer, snapshot: RulesSnapshot, verdict: Verdict, send: Bool = true,
    metadata: () -> SessionMetadata
  ) -> Session? {
    let counters = listener.counters
    guard verdict.matched else {
      counters.droppedByRules.increment()
      return nil
    }
    if cachedRules === snapshot.rules, cachedRule == verdict.rule, let s = cachedSession, !s.closed
    {
      if send { s.receive(buffer) }
      return s
    }
    let program = snapshot.program.program
    let rule = program.rules[Int(verdict.rule)]
    guard case .route(let r) = rule.action else {
      counters.droppedByRules.increment()
      return nil
    }
    let key = SessionKey(
      rule: program.rulelists[rule.rulelist].name + "/" + rule.name, route: program.routes[r])
    let session: Session
    if let s = sessions[key], !s.closed {
      session = s
    } else {
      guard let s = openSession(key, metadata: metadata()) else {
        counters.droppedUndeliverable.increment()
        return nil
      }
      session = s
    }
    cachedRules = snapshot.rules
    cachedRule = verdict.rule
    cachedSession = session
    if send { session.receive(buffer) }
    return session.closed ? nil : session
  }

  private func openSession(_ key: SessionKey, metadata: SessionMetadata) -> Session? {
    let route = key.route
    let names = route.via + [route.destination] + route.returnVia
    var clusters: [ClusterRuntime] = []
    for name in names {
      guard let c = listener.runtime.cluster(named: name) else {
        proxyLogger.warning(
          "route names an unknown cluster; message dropped",
          metadata: ["listener": "\(listener.name)", "rule": "\(key.rule)", "cluster": "\(name)"])
        return nil
      }
      clusters.append(c)
    }
    let idle =
      route.idleTimeout != RouteInfo.defaultIdleTimeout
      ? TimeAmount.nanoseconds(route.idleTimeout)
      : TimeAmount.nanoseconds(Int64(listener.config.spec.idleTimeout * 1e9))
    let session = Session(
      name: listener.runtime.nextSessionName(listener: listener.name), listener: listener,
      source: source, rule: key.rule, route: route, metadata: metadata, eventLoop: eventLoop,
      idleTimeout: idle, batch: batch, replyToClient: reply)
    sessions[key] = session
    // Strong: a session may outlive its listener (and the listener's table of flows), and its
    // flow must still unregister it when it ends. The cycle ends with the session (`close`
    // drops `onClose`).
    session.onClose = { s in self.sessionClosed(s, key: key) }
    listener.runtime.register(session)
    listener.counters.sessionsCreated.increment()
    listener.counters.sessionsActive.increment()
    if let reason = session.start(clusters: clusters) {
      session.fail(reason)
      return nil
    }
    return session
  }

  private func sessionClosed(_ session: Session, key: SessionKey) {
    if sessions[key] === session { sessions[key] = nil }
    if cachedSession === session { cachedSession = nil }
    listener.runtime.unregister(session)
    listener.counters.sessionsActive.decrement()
    onSessionClosed?(session)
    if sessions.isEmpty { onEmpty?(self) }
  }

  /// Ends every session (the client went away, or the listener is removed).
  func closeAll() {
    for s in Array(sessions.values) { s.close() }
  }
}
