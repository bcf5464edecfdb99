import CRDBridge
import Testing

/// Every check of the manifests, with its message and position.
@Suite struct ManifestCheckTests {
  let pods = """
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: gw-0, labels: {app: gw}}
    status: {podIP: 127.0.0.1}
    """

  func vs(_ name: String, listener: String, rules: String = "[]") -> String {
    """
    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata: {name: \(name)}
    spec:
      selector: {matchLabels: {app: gw}}
      listener:
        \(listener)
        rules: \(rules)

    """
  }

  func has(_ t: Translation, _ prefix: String) -> Bool {
    Fixture.messages(t).contains { $0.hasPrefix(prefix) }
  }

  @Test func unknownProtocol() {
    let t = Fixture.translate(vs("a", listener: "spec: {protocol: UPD, port: 9001}") + pods)
    #expect(
      has(
        t,
        "t.yaml:7:22: error: unknown protocol 'UPD'; expected one of: UDP, TCP, WebSocket, UnixDomainSocket"
      ),
      "\(Fixture.messages(t))")
    // The broken listener does not make the VirtualService look like an unused stub.
    #expect(Fixture.messages(t).count == 1, "\(Fixture.messages(t))")
  }

  /// Listener and rule names are what the rule language reads as one name: Kubernetes-style
  /// `listener-0` is one; a leading digit, an empty part or a space is not.
  @Test func listenerNames() {
    let echo = "{action: {route: {destination: {name: echo, spec: {protocol: Echo}}}}}"
    let good = Fixture.translate(
      vs("a", listener: "name: gw-0.v2\n    spec: {protocol: UDP, port: 9001}", rules: echo) + pods)
    #expect(Fixture.messages(good) == [])
    #expect(good.listeners.first?.source?.contains("rulelist gw-0.v2 for UDP {") == true)
    for bad in ["0gw", "gw--0", "gw.", "'gw 0'"] {
      let t = Fixture.translate(
        vs("a", listener: "name: \(bad)\n    spec: {protocol: UDP, port: 9001}", rules: echo) + pods
      )
      #expect(
        has(
          t, "t.yaml:7:5: error: listener name '\(bad.filter { $0 != "'" })' cannot name a rulelist"
        ),
        "\(Fixture.messages(t))")
    }
  }

  @Test func unresolvedReference() {
    let t = Fixture.translate(
      vs(
        "a", listener: "spec: {protocol: UDP, port: 9001}",
        rules: "{action: {route: {destination: nowhere}}}")
        + pods)
    #expect(
      has(
        t,
        "t.yaml:8:43: error: no VirtualService or Kubernetes Service 'nowhere' in namespace 'default'"
      ),
      "\(Fixture.messages(t))")
    let other = Fixture.translate(
      vs(
        "a", listener: "spec: {protocol: UDP, port: 9001}",
        rules: "{action: {route: {destination: b.other.virtualservice.cluster.local}}}") + pods)
    #expect(
      has(other, "t.yaml:8:43: error: no VirtualService 'b' in namespace 'other'"),
      "\(Fixture.messages(other))")
    let route = Fixture.translate(
      vs("a", listener: "spec: {protocol: UDP, port: 9001}", rules: "{action: {route: shared}}")
        + pods)
    #expect(
      has(route, "t.yaml:8:29: error: no Route 'shared' in namespace 'default'"),
      "\(Fixture.messages(route))")
  }

  @Test func portClashWithTheAPIPort() {
    let t = Fixture.translate(vs("a", listener: "spec: {protocol: TCP, port: 1234}") + pods)
    #expect(
      has(
        t, "t.yaml:7:33: warning: listener 'a' uses port 1234, the l7mp control API's port (TCP)"),
      "\(Fixture.messages(t))")
    let udp = Fixture.translate(vs("a", listener: "spec: {protocol: UDP, port: 1234}") + pods)
    #expect(!Fixture.messages(udp).contains { $0.contains("1234") })
  }

  @Test func portClashBetweenListenersOnTheSameProxies() {
    let t = Fixture.translate(
      vs("a", listener: "spec: {protocol: UDP, port: 9001}") + "---\n"
        + vs("b", listener: "spec: {protocol: UDP, port: 9001}") + pods)
    #expect(
      has(
        t,
        "t.yaml:16:33: warning: listener 'b' uses the same port as listener 'a' of VirtualService 'a' (t.yaml:7:5) on the same proxies"
      ),
      "\(Fixture.messages(t))")
    let tcpAndUDP = Fixture.translate(
      vs("a", listener: "spec: {protocol: UDP, port: 9001}") + "---\n"
        + vs("b", listener: "spec: {protocol: WebSocket, port: 9001}") + pods)
    #expect(!Fixture.messages(tcpAndUDP).contains { $0.contains("same port") })
  }

  @Test func unusedVirtualService() {
    let t = Fixture.translate(
      "apiVersion: l7mp.io/v1\nkind: VirtualService\nmetadata: {name: lonely}\nspec: {selector: {matchLabels: {app: x}}}\n"
    )
    #expect(
      Fixture.messages(t) == [
        "t.yaml:1:1: warning: VirtualService 'lonely' has no listener and no route refers to it (unused)"
      ])
  }

  @Test func unknownFieldsAreWarnings() {
    let t = Fixture.translate(
      vs("a", listener: "spec: {protocol: UDP, port: 9001, prot: 1}") + pods)
    #expect(
      has(t, "t.yaml:7:39: warning: unknown field 'prot' in listener spec (ignored)"),
      "\(Fixture.messages(t))")
  }

  @Test func wrongApiVersionAndTypes() {
    let t = Fixture.translate(
      "apiVersion: l7mp.io/v2\nkind: VirtualService\nmetadata: {name: a}\n---\napiVersion: l7mp.io/v1\nkind: VirtualService\nmetadata: {name: b}\nspec:\n  listener: {spec: {protocol: UDP, port: '9001'}}\n"
    )
    #expect(
      has(t, "t.yaml:1:13: error: VirtualService needs apiVersion: l7mp.io/v1, found 'l7mp.io/v2'"),
      "\(Fixture.messages(t))")
    #expect(
      has(t, "t.yaml:9:42: error: port must be an integer, found the string '9001'"),
      "\(Fixture.messages(t))")
  }

  @Test func badYAMLIsOneClearError() {
    let t = Fixture.translate("apiVersion: l7mp.io/v1\nkind: [VirtualService\n")
    #expect(Fixture.messages(t).count == 1)
    #expect(has(t, "t.yaml:3:1: error: did not find expected ',' or ']'"), "\(Fixture.messages(t))")
    let dup = Fixture.translate("kind: Pod\nkind: Service\n")
    #expect(has(dup, "t.yaml:2:1: error: duplicate key 'kind'"), "\(Fixture.messages(dup))")
  }

  @Test func ruleLanguageDiagnosticsMapToTheManifest() {
    // A rewrite the rule language refuses: IP.src_addr cannot be set.
    let t = Fixture.translate(
      vs(
        "a", listener: "spec: {protocol: UDP, port: 9001}",
        rules:
          "{action: {rewrite: [{path: /IP/src_addr, value: x}], route: {destination: {spec: {protocol: Echo}}}}}"
      ) + pods)
    let errors = Fixture.messages(t).filter { $0.contains("error") }
    #expect(errors.count == 1, "\(errors)")
    #expect(errors.first?.hasPrefix("t.yaml:8:") == true, "\(errors)")
    #expect(
      errors.first?.contains("(in the generated rule source: set IP.src_addr = \"x\")") == true,
      "\(errors)")
  }
}
