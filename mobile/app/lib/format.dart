// Formatting shared by the screens: the core hands out metres, seconds and
// unix milliseconds; people read kilometres, h:mm and local dates.

import 'package:intl/intl.dart';

/// Metres as "12.3 km".
String km(double metres) => '${(metres / 1000).toStringAsFixed(1)} km';

/// Seconds as "1:05 h".
String hm(int seconds) {
  final h = seconds ~/ 3600;
  final m = (seconds % 3600) ~/ 60;
  return '$h:${m.toString().padLeft(2, '0')} h';
}

/// Unix milliseconds as a local date and time.
String when(int ms) =>
    DateFormat.yMMMd().add_Hm().format(DateTime.fromMillisecondsSinceEpoch(ms));

/// Unix milliseconds as a local time of day.
String clock(int ms) =>
    DateFormat.Hm().format(DateTime.fromMillisecondsSinceEpoch(ms));

/// The current month as the core's period syntax, `YYYY-MM`.
String thisMonth([DateTime? now]) {
  final t = now ?? DateTime.now();
  return '${t.year}-${t.month.toString().padLeft(2, '0')}';
}
