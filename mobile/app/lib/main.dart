// Tacho's Flutter app: opens the one TachoCore of this process and shows
// the screens. Every rule lives in the Rust core; the screens only call it.

import 'package:flutter/material.dart';

import 'background_sync.dart';
import 'native_bridge.dart';
import 'open_core.dart';
import 'screens/cars.dart';
import 'screens/connections.dart';
import 'screens/hooks.dart';
import 'screens/places.dart';
import 'screens/projects.dart';
import 'screens/reports.dart';
import 'screens/settings.dart';
import 'screens/timesheet.dart';
import 'screens/today.dart';
import 'screens/trips.dart';
import 'src/rust/api/session.dart';
import 'src/rust/api/sync.dart';
import 'src/rust/frb_generated.dart';

Future<void> main() async {
  WidgetsFlutterBinding.ensureInitialized();
  await RustLib.init();
  final core = await openTachoCore();
  await NativeBridge(core).start();
  // Syncs while the app is not open; a failure to schedule leaves the foreground sync.
  await scheduleBackgroundSync().catchError((Object _) {});
  runApp(TachoApp(core: core));
}

/// The app shell: four tabs, the rarely used screens under "More".
class TachoApp extends StatelessWidget {
  const TachoApp({super.key, required this.core});

  final TachoCore core;

  @override
  Widget build(BuildContext context) {
    return MaterialApp(
      title: 'Tacho',
      theme: ThemeData(colorSchemeSeed: Colors.indigo, useMaterial3: true),
      home: HomeShell(core: core),
    );
  }
}

/// Bottom navigation between the main screens.
class HomeShell extends StatefulWidget {
  const HomeShell({super.key, required this.core});

  final TachoCore core;

  @override
  State<HomeShell> createState() => _HomeShellState();
}

class _HomeShellState extends State<HomeShell> with WidgetsBindingObserver {
  int _tab = 0;

  /// The core's sync loop, running while the app is in the foreground (long-poll for the
  /// other devices' changes, push new ones); stopped when the app goes to the background,
  /// where background_sync.dart's scheduled runs take over (the core never runs both at once).
  SyncLoop? _sync;

  @override
  void initState() {
    super.initState();
    WidgetsBinding.instance.addObserver(this);
    _startSync();
  }

  @override
  void dispose() {
    WidgetsBinding.instance.removeObserver(this);
    _sync?.stop();
    super.dispose();
  }

  @override
  void didChangeAppLifecycleState(AppLifecycleState state) {
    if (state == AppLifecycleState.resumed) {
      _startSync();
    } else if (state == AppLifecycleState.paused || state == AppLifecycleState.detached) {
      _sync?.stop();
      _sync = null;
    }
  }

  Future<void> _startSync() async {
    if (_sync != null) return;
    // Not signed in: the loop would only record "not signed in"; Settings starts it after sign-in
    // by resuming, and "Sync now" works either way.
    final status = await widget.core.syncStatus();
    if (status.accountId == null || _sync != null) return;
    _sync = await widget.core.startSyncLoop(waitS: 25);
  }

  @override
  Widget build(BuildContext context) {
    final core = widget.core;
    final pages = <Widget>[
      TodayScreen(core: core),
      TripsScreen(core: core),
      TimesheetScreen(core: core),
      MoreScreen(core: core),
    ];
    return Scaffold(
      body: SafeArea(child: pages[_tab]),
      bottomNavigationBar: NavigationBar(
        selectedIndex: _tab,
        onDestinationSelected: (i) => setState(() => _tab = i),
        destinations: const [
          NavigationDestination(icon: Icon(Icons.today), label: 'Today'),
          NavigationDestination(icon: Icon(Icons.route), label: 'Trips'),
          NavigationDestination(icon: Icon(Icons.timer), label: 'Timesheet'),
          NavigationDestination(icon: Icon(Icons.more_horiz), label: 'More'),
        ],
      ),
    );
  }
}

/// Projects, places, cars, connections, reports, automation tokens and settings.
class MoreScreen extends StatelessWidget {
  const MoreScreen({super.key, required this.core});

  final TachoCore core;

  @override
  Widget build(BuildContext context) {
    void open(Widget page) =>
        Navigator.of(context).push(MaterialPageRoute<void>(builder: (_) => page));
    return ListView(
      children: [
        ListTile(
          leading: const Icon(Icons.work_outline),
          title: const Text('Projects'),
          onTap: () => open(ProjectsScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.place),
          title: const Text('Places'),
          onTap: () => open(PlacesScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.directions_car),
          title: const Text('Cars and odometer'),
          onTap: () => open(CarsScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.sync_alt),
          title: const Text('Connections'),
          subtitle: const Text('Toggl, Tempo, Kimai, Zammad: state and conflicts'),
          onTap: () => open(ConnectionsScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.description),
          title: const Text('Reports'),
          onTap: () => open(ReportsScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.key),
          title: const Text('Automation tokens'),
          onTap: () => open(HookTokensScreen(core: core)),
        ),
        ListTile(
          leading: const Icon(Icons.settings),
          title: const Text('Settings and sync'),
          onTap: () => open(SettingsScreen(core: core)),
        ),
      ],
    );
  }
}
