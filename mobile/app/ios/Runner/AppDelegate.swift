// Starts one Flutter engine at launch, also when iOS launches the app in the
// background to run an App Intent (a Shortcuts automation on CarPlay or
// Bluetooth connect), so Dart's TachoCore is there to answer the intent.

import Flutter
import UIKit

@main
@objc class AppDelegate: FlutterAppDelegate {
    /// The engine running lib/main.dart; created before any UI so background
    /// launches run Dart too.
    lazy var engine = FlutterEngine(name: "tacho")

    override func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]?
    ) -> Bool {
        engine.run()
        GeneratedPluginRegistrant.register(with: engine)
        TachoChannel.shared.attach(to: engine.binaryMessenger)
        WatchLink.shared.activate()
        let controller = FlutterViewController(engine: engine, nibName: nil, bundle: nil)
        window = UIWindow(frame: UIScreen.main.bounds)
        window?.rootViewController = controller
        window?.makeKeyAndVisible()
        return super.application(application, didFinishLaunchingWithOptions: launchOptions)
    }
}
