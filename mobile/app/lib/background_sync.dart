// Background sync: Android WorkManager and an iOS BGAppRefreshTask, both through the
// `workmanager` plugin, both calling [backgroundSyncDispatcher] in a Flutter engine of the
// plugin's own. The rules (one core per database in the process, never two syncs at once,
// the time budget) live in the Rust core's `background_sync`; this file only schedules it.

import 'dart:ui' show DartPluginRegistrant;

import 'package:flutter/widgets.dart';
import 'package:workmanager/workmanager.dart';

import 'open_core.dart';
import 'src/rust/api/types.dart';
import 'src/rust/frb_generated.dart';

/// The task's name, and on iOS its BGTaskScheduler identifier: the same string is in
/// ios/Runner/Info.plist (`BGTaskSchedulerPermittedIdentifiers`) and AppDelegate.swift.
const backgroundSyncTask = 'app.tacho.sync';

/// Seconds one background run may sync. iOS gives an app-refresh task about 30 s in all;
/// the rest is for starting the engine, opening the core and answering the scheduler.
const backgroundSyncBudgetS = 20;

/// Asks the platform to run [backgroundSyncDispatcher] about every half hour while a network
/// is up (Android's minimum is 15 minutes; iOS decides when itself, from how the app is
/// used). Called at every launch: an already scheduled task is kept, not restarted.
Future<void> scheduleBackgroundSync() async {
  await Workmanager().initialize(backgroundSyncDispatcher);
  await Workmanager().registerPeriodicTask(
    backgroundSyncTask,
    backgroundSyncTask,
    frequency: const Duration(minutes: 30),
    constraints: Constraints(networkType: NetworkType.connected),
  );
}

/// The background engine's entry point, Android and iOS alike: opens the core (in a process
/// where the app runs, the app's own core) and runs one sync within the budget.
@pragma('vm:entry-point')
void backgroundSyncDispatcher() {
  Workmanager().executeTask((task, inputData) async {
    if (task != backgroundSyncTask) return true;
    WidgetsFlutterBinding.ensureInitialized();
    // path_provider and flutter_timezone answer in this engine too (AppDelegate registers
    // the plugins for it on iOS; Android's background engine registers them itself).
    DartPluginRegistrant.ensureInitialized();
    await RustLib.init();
    final core = await openTachoCore();
    final result = await core.backgroundSync(budgetS: backgroundSyncBudgetS);
    // `false` asks the scheduler to retry with backoff; only a failed sync is worth one
    // (busy: the running sync carries on; out of time: the next run continues from there).
    return result.outcome != BackgroundSyncOutcome.failed;
  });
}
