// The relay tokens in the Keychain instead of the SQLite file: the core's SecretStore seam.
// Items are generic passwords of one service, readable after the first unlock (so background
// sync and complications can use them) and never synced to iCloud.

import Foundation
import Security
import TachoFFI

public final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    private let service: String

    /// `service` groups Tacho's items; share it through an access group to let the watch
    /// extension and the app read the same tokens.
    public init(service: String = "app.tacho.relay") {
        self.service = service
    }

    private func query(_ key: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
        ]
    }

    public func load(key: String) throws -> String? {
        var q = query(key)
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = item as? Data else {
            throw SecretStoreFailure.Unavailable(reason: "Keychain read failed (\(status))")
        }
        return String(data: data, encoding: .utf8)
    }

    public func save(key: String, value: String) throws {
        let data = Data(value.utf8)
        let update: [String: Any] = [kSecValueData as String: data]
        var status = SecItemUpdate(query(key) as CFDictionary, update as CFDictionary)
        if status == errSecItemNotFound {
            var add = query(key)
            add[kSecValueData as String] = data
            add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
            status = SecItemAdd(add as CFDictionary, nil)
        }
        guard status == errSecSuccess else {
            throw SecretStoreFailure.Unavailable(reason: "Keychain write failed (\(status))")
        }
    }

    public func delete(key: String) throws {
        let status = SecItemDelete(query(key) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw SecretStoreFailure.Unavailable(reason: "Keychain delete failed (\(status))")
        }
    }
}
