// Small pieces every screen uses: error display and reloading on core events.

import 'dart:async';

import 'package:flutter/material.dart';

import '../src/rust/api/error.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';

/// A failed call in words for people: the core's message.
String errorText(Object error) => error is ApiError ? error.message : error.toString();

/// Shows a failed call as a snack bar with the core's message.
void showError(BuildContext context, Object error) {
  ScaffoldMessenger.of(context).showSnackBar(SnackBar(content: Text(errorText(error))));
}

/// Runs [action], showing its error instead of throwing.
Future<void> guarded(BuildContext context, Future<void> Function() action) async {
  try {
    await action();
  } catch (e) {
    if (context.mounted) showError(context, e);
  }
}

/// State that reloads when the core announces a change, so screens never
/// poll the database.
abstract class CoreListState<T extends StatefulWidget> extends State<T> {
  TachoCore get core;
  StreamSubscription<CoreEventInfo>? _sub;

  /// Loads what the screen shows.
  Future<void> reload();

  /// Whether [event] can change what the screen shows; live trip progress
  /// arrives with every GPS batch, so screens that do not show it skip it.
  bool wants(CoreEventInfo event) => true;

  @override
  void initState() {
    super.initState();
    _sub = core.watchEvents().where(wants).listen((_) => reload());
    reload();
  }

  @override
  void dispose() {
    _sub?.cancel();
    super.dispose();
  }
}
