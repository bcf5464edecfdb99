import Foundation
import TestSupport

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

/// A UDP socket bound to a loopback address and port (0: any free one), with a receive timeout,
/// talking to servers on 127.0.0.1.
final class UDPTestSocket {
  let fd: Int32

  struct BindFailure: Error, CustomStringConvertible {
    let description: String
  }

  init(bindTo address: String = "127.0.0.1", port: Int, timeout: Double = 3) throws {
    fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var tv = timeval()
    tv.tv_sec = .init(timeout)
    tv.tv_usec = .init((timeout - Double(Int(timeout))) * 1e6)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var a = Self.address(address, port)
    let r = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    if r != 0 {
      let why = String(cString: strerror(errno))
      close(fd)
      throw BindFailure(description: "cannot bind \(address):\(port): \(why)")
    }
  }

  deinit { close(fd) }

  static func address(_ ip: String, _ port: Int) -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, ip, &a.sin_addr)
    return a
  }

  /// Sends `text` to 127.0.0.1:`port`.
  func send(_ text: String, to port: Int) {
    var a = Self.address("127.0.0.1", port)
    let bytes = Array(text.utf8)
    _ = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
  }

  /// The next datagram, or nil after the timeout.
  func receive() -> String? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = recv(fd, &buffer, buffer.count, 0)
    return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
  }
}
