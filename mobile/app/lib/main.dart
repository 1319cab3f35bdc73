// Tacho's Flutter app: opens the one TachoCore of this process and shows
// the screens. Every rule lives in the Rust core; the screens only call it.

import 'package:flutter/material.dart';
import 'package:flutter_timezone/flutter_timezone.dart';
import 'package:path_provider/path_provider.dart';

import 'native_bridge.dart';
import 'screens/cars.dart';
import 'screens/places.dart';
import 'screens/reports.dart';
import 'screens/settings.dart';
import 'screens/timesheet.dart';
import 'screens/today.dart';
import 'screens/trips.dart';
import 'src/rust/api/session.dart';
import 'src/rust/frb_generated.dart';

Future<void> main() async {
  WidgetsFlutterBinding.ensureInitialized();
  await RustLib.init();
  final docs = await getApplicationDocumentsDirectory();
  final zone = await FlutterTimezone.getLocalTimezone();
  final core = await TachoCore.open(dbPath: '${docs.path}/tacho.db', timeZone: zone);
  await NativeBridge(core).start();
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

class _HomeShellState extends State<HomeShell> {
  int _tab = 0;

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

/// Places, cars, reports and settings.
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
          leading: const Icon(Icons.description),
          title: const Text('Reports'),
          onTap: () => open(ReportsScreen(core: core)),
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
