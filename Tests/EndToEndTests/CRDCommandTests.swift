import Foundation
import Testing

/// `l7mp crd translate|validate` as a person runs them.
@Suite struct CRDCommandTests {
  @Test func translatePrintsTheRuleSourcePerListener() throws {
    let r = try CLI.run(["crd", "translate", CLI.repo("examples/udp-gateway")])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("rulelist transcoder for WebSocket {"))
    #expect(
      r.stdout.contains(
        "rule rule1 when IP.src_addr starts \"127.0.0\" and UDP.src_port == 9001 {\n    set HTTP.headers.id = 1\n    route to worker via transcoder\n"
      ), "\(r.stdout)")
    #expect(r.stderr.contains("0 errors, 0 warnings"))
  }

  @Test func translateConfigAsYAMLAndJSON() throws {
    let yaml = try CLI.run(["crd", "translate", "--config", CLI.repo("examples/udp-gateway")])
    #expect(yaml.status == 0, "\(yaml.stderr)")
    #expect(
      yaml.stdout.contains("# proxy set default/my-udp-service: pods default/gateway-0 (127.0.0.1)")
    )
    #expect(yaml.stdout.contains("---\n"))
    let json = try CLI.run([
      "crd", "translate", "--config", "--format", "json", CLI.repo("examples/udp-gateway"),
    ])
    #expect(json.status == 0, "\(json.stderr)")
    let sets = try #require(
      JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(
      sets.map { $0["proxySet"] as? String } == ["default/transcoder", "default/my-udp-service"])
  }

  @Test func validateExitsOneOnErrorsWithPositions() throws {
    let file = try CLI.temporaryFile(
      "bad-vs.yaml",
      """
      apiVersion: l7mp.io/v1
      kind: VirtualService
      metadata: {name: a}
      spec:
        selector: {matchLabels: {app: a}}
        listener:
          spec: {protocol: UPD, port: 9001}

      """)
    let r = try CLI.run(["crd", "validate", file])
    #expect(r.status == 1)
    #expect(r.stderr.contains("bad-vs.yaml:7:22: error: unknown protocol 'UPD'"), "\(r.stderr)")
    let ok = try CLI.run(["crd", "validate", CLI.repo("examples/udp-gateway")])
    #expect(ok.status == 0, "\(ok.stderr)")
  }

  @Test func warningsAsErrorsAndUsage() throws {
    let file = try CLI.temporaryFile(
      "stub.yaml",
      "apiVersion: l7mp.io/v1\nkind: VirtualService\nmetadata: {name: lonely}\n")
    #expect(try CLI.run(["crd", "validate", file]).status == 0)
    let strict = try CLI.run(["crd", "validate", "--warnings-as-errors", file])
    #expect(strict.status == 1)
    #expect(
      strict.stderr.contains("stub.yaml:1:1: warning: VirtualService 'lonely' has no listener"))
    #expect(try CLI.run(["crd", "validate"]).status == 2)
    #expect(try CLI.run(["crd", "validate", "/nonexistent.yaml"]).status == 2)
    let empty = try CLI.run(["crd", "validate", CLI.repo("grammar")])
    #expect(empty.status == 2)
    #expect(empty.stderr.contains("no *.yaml, *.yml or *.json files in"))
    let stdin = try CLI.run(
      ["crd", "translate", "-"],
      stdin: try String(
        contentsOfFile: CLI.repo("examples/udp-gateway/virtualservices.yaml"), encoding: .utf8))
    // Without kubernetes.yaml the stub 'worker' has no Service to take its port from.
    #expect(stdin.stdout.contains("rulelist transcoder for WebSocket {"), "\(stdin.stderr)")
    #expect(stdin.status == 1)
    #expect(stdin.stderr.contains("<stdin>:61:20: error: VirtualService 'worker' has no listener"))
  }
}
