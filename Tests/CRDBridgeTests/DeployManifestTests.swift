import CRDBridge
import Config
import Testing

/// deploy/ reads as YAML, and the seed's Config section, verbatim, translates cleanly with them.
@Suite struct DeployManifestTests {
  static let files = [
    "deploy/bridge.yaml", "deploy/gateway-daemonset.yaml", "deploy/transcoder-sidecar.yaml",
    "deploy/crds/virtualservice.yaml", "deploy/crds/route.yaml",
  ]

  @Test(arguments: files)
  func readsAsYAML(file: String) throws {
    let docs = try YAMLReader.documents(Array(try Fixture.repoFile(file).utf8), name: file)
    #expect(!docs.isEmpty)
    for d in docs { #expect(d["kind"]?.scalar?.string != nil, "\(file) \(d.mark)") }
  }

  /// seed/l7mp-k8s-api.org, section Config, as written there.
  static let seedConfig = """
    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata:
      name: transcoder
      namespace: default
    spec:
      selector:
        matchLabels:
          app: transcoder
      listener:
        spec: { protocol: WebSocket, port: 9999 }
        rules:
          action:
            route:
              destination:
                spec:
                  protocol: UnixDomainSocket
                  filename: "/var/run/sock/uds-echo.sock"

    ---

    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata:
      name: worker
      namespace: default
    spec:
      selector:
        matchLabels:
          app: worker

    ---

    apiVersion: l7mp.io/v1
    kind: VirtualService
    metadata:
      name: my-udp-service
      namespace: default
      selector:
        serviceName: gateway
        namespace: default
    spec:
      virtualHost:
      - name: my-udp-endpoint
        spec: { protocol: UDP, port: 9001 }
        rules:
        - match:
            op: and
            apply:
              - { op: starts, path: '/IP/src_addr', value: '10.0.0' }
              - { op: test, path: '/UDP/src_port', value: 9001 }
          action:
            rewrite:
              - path: "HTTP/headers"
                value: { id: 1 }
            route:
              cluster: worker
              ingress:
                - transcoder
          options:
            removeOrphanSessions: true
    """

  @Test func theSeedAsWrittenTranslatesWithTheDeployManifests() throws {
    let worker = """
      apiVersion: v1
      kind: Service
      metadata: {name: worker, namespace: default}
      spec: {selector: {app: worker}, ports: [{protocol: UDP, port: 9999, targetPort: 9999}]}
      """
    var files = [("seed.yaml", Self.seedConfig), ("worker.yaml", worker)]
    files += try Self.files.map { ($0, try Fixture.repoFile($0)) }
    let t = Fixture.translate(files)
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
    let gateway = try #require(t.listeners.first { $0.listener.name == "my-udp-endpoint" }?.source)
    #expect(
      gateway.contains("rule rule1 when IP.src_addr starts \"10.0.0\" and UDP.src_port == 9001 {"))
    // No pods in these manifests: nothing runs the listeners yet, and the bridge says so.
    #expect(t.proxySets.isEmpty)
    #expect(
      Fixture.messages(t).contains {
        $0.contains("warning: VirtualService 'transcoder' selects no pods")
      })
  }
}
