import Foundation

/// A long-running `l7mp` (or other) process for end-to-end tests: its output collected as it
/// comes, waits bounded by deadlines, and always stopped (SIGTERM, then SIGKILL) at the end.
final class ServerProcess: @unchecked Sendable {
  let process = Process()
  private let lock = NSLock()
  private var out = ""
  private var err = ""

  init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let o = Pipe()
    let e = Pipe()
    process.standardOutput = o
    process.standardError = e
    process.standardInput = FileHandle.nullDevice
    o.fileHandleForReading.readabilityHandler = { [weak self] h in
      let d = h.availableData
      guard let self, !d.isEmpty else { return }
      self.lock.withLock { self.out += String(decoding: d, as: UTF8.self) }
    }
    e.fileHandleForReading.readabilityHandler = { [weak self] h in
      let d = h.availableData
      guard let self, !d.isEmpty else { return }
      self.lock.withLock { self.err += String(decoding: d, as: UTF8.self) }
    }
    try process.run()
  }

  static func l7mp(_ arguments: [String], environment: [String: String] = [:]) throws
    -> ServerProcess
  {
    try ServerProcess(try CLI.executable, arguments, environment: environment)
  }

  var stdout: String { lock.withLock { out } }
  var stderr: String { lock.withLock { err } }

  /// Waits until standard output contains `text` (or the process ends, or the deadline passes).
  @discardableResult
  func waitForOutput(_ text: String, timeout: Double = 20) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if stdout.contains(text) { return true }
      if !process.isRunning { return stdout.contains(text) }
      Thread.sleep(forTimeInterval: 0.02)
    }
    return false
  }

  /// The port in the first line holding `prefix` … `:PORT`.
  func port(after prefix: String) -> Int? {
    guard let line = stdout.split(separator: "\n").first(where: { $0.contains(prefix) }),
      let colon = line.lastIndex(of: ":")
    else { return nil }
    return Int(line[line.index(after: colon)...].prefix { $0.isNumber })
  }

  /// SIGTERM, then waits (bounded) for the exit; SIGKILL if it does not come. Returns the status.
  @discardableResult
  func stop(timeout: Double = 10) -> Int32? {
    guard process.isRunning else { return process.terminationStatus }
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      return nil
    }
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }
}

/// A port that was free a moment ago.
func freeLoopbackPort(udp: Bool) -> Int {
  let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var a = sockaddr_in()
  a.sin_family = sa_family_t(AF_INET)
  a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &a) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      _ = bind(fd, $0, len)
      return getsockname(fd, $0, &len)
    }
  }
  return Int(UInt16(bigEndian: a.sin_port))
}
