import Foundation
import Testing

@testable import CRDBridge

@Suite struct KubernetesBridgeTests {
  /// Core-group list items come without `apiVersion` and `kind`; the bridge adds them so that the
  /// manifest reader knows what each object is, and leaves objects that have them alone.
  @Test func listItemsGetTheirKind() throws {
    let list = try #require(
      try JSONSerialization.jsonObject(with: Data(KubernetesFixtures.bytes("services-list.json")))
        as? [String: Any])
    let items = try #require(list["items"] as? [[String: Any]])
    #expect(items.allSatisfy { $0["kind"] == nil })
    let files = try items.map { item in
      let json = Array(try JSONSerialization.data(withJSONObject: item))
      return (name: "kubernetes:Service", bytes: KubernetesBridge.withKind(json, "v1", "Service"))
    }
    for f in files {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(f.bytes)) as? [String: Any])
      #expect(object["kind"] as? String == "Service")
      #expect(object["apiVersion"] as? String == "v1")
    }
    // Read as manifests: Services, with no complaint about what they are.
    let t = Bridge.translate(files)
    #expect(!t.diagnostics.all.contains { $0.message.contains("kind") }, "\(t.diagnostics.all)")

    let custom = Array(#"{"apiVersion": "l7mp.io/v2", "kind": "Other", "metadata": {}}"#.utf8)
    let kept = try #require(
      try JSONSerialization.jsonObject(
        with: Data(KubernetesBridge.withKind(custom, "l7mp.io/v1", "VirtualService")))
        as? [String: Any])
    #expect(kept["kind"] as? String == "Other" && kept["apiVersion"] as? String == "l7mp.io/v2")
  }

  /// The objects of the recorded VirtualService list translate as manifests do.
  @Test func recordedVirtualServicesTranslate() throws {
    let list = try #require(
      try JSONSerialization.jsonObject(
        with: Data(KubernetesFixtures.bytes("virtualservices-list-page1.json"))) as? [String: Any])
    let items = try #require(list["items"] as? [[String: Any]])
    let files = try items.map {
      (
        name: "kubernetes:VirtualService",
        bytes: KubernetesBridge.withKind(
          Array(try JSONSerialization.data(withJSONObject: $0)), "l7mp.io/v1", "VirtualService")
      )
    }
    let t = Bridge.translate(files)
    #expect(!t.listeners.isEmpty)
    #expect(t.diagnostics.errorCount == 0, "\(t.diagnostics.all)")
  }
}
