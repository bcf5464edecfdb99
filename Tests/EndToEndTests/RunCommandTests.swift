import Foundation
import TestSupport
import Testing

/// `l7mp run` and `l7mp echo` as processes, with socat as the client.
@Suite(.serialized) struct RunCommandTests {
  /// A config folder: `proxy.json` and `rules/main.rules`.
  static func configFolder(_ json: String, rules: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-run-\(UUID().uuidString)")
    let ruleDir = dir.appendingPathComponent("rules")
    try FileManager.default.createDirectory(at: ruleDir, withIntermediateDirectories: true)
    try rules.write(
      to: ruleDir.appendingPathComponent("main.rules"), atomically: true, encoding: .utf8)
    let config = dir.appendingPathComponent("proxy.json")
    try json.write(to: config, atomically: true, encoding: .utf8)
    return config.path
  }

  /// socat as a UDP client: sends `text`, prints what comes back within a second.
  static func socatUDP(_ text: String, port: Int) throws -> String {
    let r = try Process.capture(
      "/usr/bin/socat", ["-t", "1", "-T", "2", "-", "UDP4:127.0.0.1:\(port)"], stdin: text)
    return r
  }

  @Test func udpProxyBetweenSocatAndEchoServer() throws {
    let echo = try ServerProcess.l7mp(["echo", "--udp", "127.0.0.1:0"])
    defer { echo.stop() }
    #expect(echo.waitForOutput("listening on"), "\(echo.stderr)")
    let echoPort = try #require(echo.port(after: "listening on"))
    let port = freeLoopbackPort(udp: true)
    let config = try Self.configFolder(
      """
      {"listeners": [{"name": "in", "spec": {"protocol": "UDP", "address": "127.0.0.1", "port": \(port)}, "rules": "in"}],
       "clusters": [{"name": "upstream", "spec": {"protocol": "UDP", "port": \(echoPort)},
                     "endpoints": [{"spec": {"address": "127.0.0.1"}}]}],
       "rulelists": [{"name": "main", "file": "rules/main.rules"}]}
      """,
      rules: """
        rulelist in for UDP {
          rule secret when payload starts "secret" { drop }
          rule rest { route to upstream }
        }
        """)
    let proxy = try ServerProcess.l7mp(["run", "--config", config, "--api-port", "0"])
    defer { proxy.stop() }
    #expect(proxy.waitForOutput("l7mp: ready"), "\(proxy.stderr)")
    #expect(proxy.stdout.contains("listener in (UDP) on"))
    #expect(
      try Self.socatUDP("hello through the proxy\n", port: port) == "hello through the proxy\n")
    #expect(try Self.socatUDP("secret stuff\n", port: port) == "")
    #expect(proxy.stop() == 0, "\(proxy.stderr)")
    #expect(echo.stop() == 0)
  }

  @Test func rewriteReachesWebSocketEchoAndStagesChain() throws {
    let ws = try ServerProcess.l7mp(["echo", "--ws", "127.0.0.1:0"])
    defer { ws.stop() }
    #expect(ws.waitForOutput("listening on"), "\(ws.stderr)")
    let wsPort = try #require(ws.port(after: "listening on"))
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-e2e-\(UUID().uuidString.prefix(8)).sock"
    ).path
    let uds = try ServerProcess.l7mp(["echo", "--uds", path])
    defer { uds.stop() }
    #expect(uds.waitForOutput("listening on"), "\(uds.stderr)")
    let port = freeLoopbackPort(udp: true)
    let config = try Self.configFolder(
      """
      {"listeners": [{"name": "in", "spec": {"protocol": "UDP", "address": "127.0.0.1", "port": \(port)}, "rules": "in"}],
       "clusters": [{"name": "transcoder", "spec": {"protocol": "WebSocket", "port": \(wsPort)},
                     "endpoints": [{"spec": {"address": "127.0.0.1"}}]},
                    {"name": "codec", "spec": {"protocol": "UnixDomainSocket"},
                     "endpoints": [{"spec": {"filename": "\(path)"}}]}],
       "rulelists": [{"name": "main", "file": "rules/main.rules"}]}
      """,
      rules: """
        rulelist in for UDP {
          rule ask when payload == "headers?" {
            set HTTP.headers.id = 1
            route to transcoder
          }
          rule chain { route to codec via transcoder }
        }
        """)
    let proxy = try ServerProcess.l7mp(["run", "--config", config, "--api-port", "0"])
    defer { proxy.stop() }
    #expect(proxy.waitForOutput("l7mp: ready"), "\(proxy.stderr)")
    // The WebSocket upstream received the rewrite as an upgrade header, and says so.
    #expect(try Self.socatUDP("headers?", port: port).contains("id: 1"))
    #expect(ws.stderr.contains("id: 1"), "\(ws.stderr)")
    // UDP → WebSocket (ingress stage) → Unix socket (destination) → back to the client.
    #expect(try Self.socatUDP("through the chain\n", port: port) == "through the chain\n")
    #expect(proxy.stop() == 0, "\(proxy.stderr)")
  }

  /// `admin.log_level` sets the level (here: only warnings, so the info-level shutdown line is
  /// not logged); `L7MP_LOG_LEVEL` wins over it; an unknown level is a configuration error.
  @Test func adminLogLevelIsApplied() throws {
    func run(_ level: String, environment: [String: String] = [:]) throws -> String {
      let config = try Self.configFolder(
        #"{"admin": {"log_level": "\#(level)"}, "rulelists": []}"#, rules: "")
      let proxy = try ServerProcess.l7mp(
        ["run", "--config", config, "--api-port", "0"], environment: environment)
      defer { proxy.stop() }
      #expect(proxy.waitForOutput("l7mp: ready"), "\(proxy.stderr)")
      #expect(proxy.stop() == 0, "\(proxy.stderr)")
      return proxy.stderr
    }
    #expect(try run("info").contains("shutting down"))
    #expect(try !run("warn").contains("shutting down"))
    #expect(try run("warning", environment: ["L7MP_LOG_LEVEL": "info"]).contains("shutting down"))
    let bad = try Self.configFolder(#"{"admin": {"log_level": "loud"}}"#, rules: "")
    let r = try CLI.run(["run", "--config", bad])
    #expect(r.status == 2)
    #expect(r.stderr.contains("unknown log level 'loud'"), "\(r.stderr)")
  }

  @Test func ruleErrorsNameTheFileAndNothingRuns() throws {
    let config = try Self.configFolder(
      """
      {"listeners": [{"name": "in", "spec": {"protocol": "UDP", "port": \(freeLoopbackPort(udp: true))}, "rules": "in"}],
       "rulelists": [{"name": "main", "file": "rules/main.rules"}]}
      """,
      rules: "rulelist in for UDP {\n  rule a when IP.src_adr == 1.2.3.4 { drop }\n}\n")
    let r = try CLI.run(["run", "--config", config, "--api-port", "0"])
    #expect(r.status == 2)
    #expect(
      r.stderr.contains("main.rules:2:15: error: unknown metadata field 'IP.src_adr'"),
      "\(r.stderr)")
  }

  @Test func badConfigFilesAreUsageErrors() throws {
    let missing = try CLI.run(["run", "--config", "/nonexistent/proxy.json"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("cannot read '/nonexistent/proxy.json': no such file"))
    let unknown = try CLI.temporaryFile("bad.json", #"{"listeners": [], "clustres": []}"#)
    let r = try CLI.run(["run", "--config", unknown])
    #expect(r.status == 2)
    #expect(
      r.stderr.contains("bad.json:1:19: error: clustres: unknown key 'clustres'"), "\(r.stderr)")
    let noFile = try Self.configFolder(
      #"{"rulelists": [{"name": "x", "file": "rules/absent.rules"}]}"#, rules: "")
    let r2 = try CLI.run(["run", "--config", noFile])
    #expect(r2.status == 2)
    #expect(r2.stderr.contains("cannot read rule file"), "\(r2.stderr)")
    #expect(r2.stderr.contains("absent.rules"))
  }

  @Test func aPortTakenTwiceOrABadIdleTimeoutStopsTheProxy() throws {
    let port = freeLoopbackPort(udp: true)
    func listener(_ name: String, _ extra: String = "") -> String {
      #"{"name": "\#(name)", "spec": {"protocol": "UDP", "address": "127.0.0.1", "port": \#(port)\#(extra)}, "rules": "in"}"#
    }
    for (listeners, message) in [
      ([listener("a"), listener("b")], "listener 'b': "),
      (
        [listener("c", #", "idle_timeout": 0"#)],
        "listener 'c': idle_timeout must be a positive number"
      ),
    ] {
      let config = try Self.configFolder(
        """
        {"listeners": [\(listeners.joined(separator: ", "))],
         "rulelists": [{"name": "main", "file": "rules/main.rules"}]}
        """,
        rules: "rulelist in for UDP { rule a { drop } }")
      let r = try CLI.run(["run", "--config", config, "--api-port", "0"])
      #expect(r.status == 2)
      #expect(r.stderr.contains(message), "\(r.stderr)")
    }
  }

  @Test func echoNeedsExactlyOneServer() throws {
    let none = try CLI.run(["echo"])
    #expect(none.status == 2)
    #expect(none.stderr.contains("give exactly one of"))
    let bad = try CLI.run(["echo", "--udp", "nonsense"])
    #expect(bad.status == 2)
  }

  @Test func echoServersAnswerSocat() throws {
    let tcp = try ServerProcess.l7mp(["echo", "--tcp", "127.0.0.1:0"])
    defer { tcp.stop() }
    #expect(tcp.waitForOutput("listening on"))
    let port = try #require(tcp.port(after: "listening on"))
    let reply = try Process.capture(
      "/usr/bin/socat", ["-t", "1", "-T", "2", "-", "TCP4:127.0.0.1:\(port)"], stdin: "over tcp\n")
    #expect(reply == "over tcp\n")
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-echo-\(UUID().uuidString).sock"
    ).path
    let uds = try ServerProcess.l7mp(["echo", "--uds", path])
    defer { uds.stop() }
    #expect(uds.waitForOutput("listening on"))
    let r2 = try Process.capture(
      "/usr/bin/socat", ["-t", "1", "-T", "2", "-", "UNIX-CONNECT:\(path)"], stdin: "over uds\n")
    #expect(r2 == "over uds\n")
  }
}

extension Process {
  /// Runs a tool to completion (bounded: the tools are given their own timeouts) and returns its
  /// standard output.
  static func capture(_ path: String, _ arguments: [String], stdin: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe()
    let input = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = input
    try p.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }
}
