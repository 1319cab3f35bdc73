// Opening the core, the same way from the app and from the background-sync engine: the
// database in the documents directory, the device's IANA zone, the host name for the relay.

import 'dart:io' show Platform;

import 'package:flutter_timezone/flutter_timezone.dart';
import 'package:path_provider/path_provider.dart';

import 'src/rust/api/session.dart';

/// Opens this app's database. In a process where it is already open (the background engine
/// while the app runs) the Rust side hands back that same core, so there is one trip recorder
/// and one sync at a time.
Future<TachoCore> openTachoCore() async {
  final docs = await getApplicationDocumentsDirectory();
  final zone = await FlutterTimezone.getLocalTimezone();
  // The relay lists this phone under its host name until the person renames it.
  return TachoCore.open(
      dbPath: '${docs.path}/tacho.db', timeZone: zone, deviceName: Platform.localHostname);
}
