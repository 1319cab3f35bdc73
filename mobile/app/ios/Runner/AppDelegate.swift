// Starts one Flutter engine at launch, also when iOS launches the app in the
// background to run an App Intent (a Shortcuts automation on CarPlay or
// Bluetooth connect), so Dart's TachoCore is there to answer the intent.
// Registers the background-sync BGAppRefreshTask (lib/background_sync.dart).

import Flutter
import UIKit
import workmanager_apple

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
        // Background sync: the workmanager plugin runs lib/background_sync.dart's dispatcher
        // in an engine of its own, which needs the plugins too (path_provider,
        // flutter_timezone). The identifier is in Info.plist's
        // BGTaskSchedulerPermittedIdentifiers; a BGAppRefreshTask must be registered before
        // launch ends, and the plugin asks for the next refresh each time one runs. iOS
        // treats the frequency as a lower bound and decides itself when to run it.
        WorkmanagerPlugin.setPluginRegistrantCallback { registry in
            GeneratedPluginRegistrant.register(with: registry)
        }
        WorkmanagerPlugin.registerPeriodicTask(
            withIdentifier: "app.tacho.sync", frequency: NSNumber(value: 30 * 60))
        TachoChannel.shared.attach(to: engine.binaryMessenger)
        WatchLink.shared.activate()
        let controller = FlutterViewController(engine: engine, nibName: nil, bundle: nil)
        window = UIWindow(frame: UIScreen.main.bounds)
        window?.rootViewController = controller
        window?.makeKeyAndVisible()
        return super.application(application, didFinishLaunchingWithOptions: launchOptions)
    }
}
