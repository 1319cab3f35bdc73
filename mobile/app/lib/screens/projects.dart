// Projects: create, rename, archive and delete. A project still used by
// entries can't be deleted (the core says so with an `inUse` error, and the
// screen offers to archive it instead).

import 'package:flutter/material.dart';

import '../src/rust/api/error.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'trips.dart' show askText;

/// All projects, archived ones greyed.
class ProjectsScreen extends StatefulWidget {
  const ProjectsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<ProjectsScreen> createState() => _ProjectsScreenState();
}

class _ProjectsScreenState extends CoreListState<ProjectsScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind == CoreEventKind.dataChanged;

  List<ProjectInfo> _projects = const [];

  @override
  Future<void> reload() async {
    try {
      final projects = await core.projectList(includeArchived: true);
      if (mounted) setState(() => _projects = projects);
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('Projects')),
      body: ListView(
        children: [
          for (final p in _projects)
            ListTile(
              leading: Icon(p.archived ? Icons.archive : Icons.work_outline),
              title: Text(p.name),
              subtitle: Text([
                if (p.client != null) p.client!,
                if (p.billable) 'billable',
                if (p.archived) 'archived',
              ].join(' · ')),
              textColor: p.archived ? Theme.of(context).disabledColor : null,
              trailing: PopupMenuButton<String>(
                onSelected: (action) => _act(context, p, action),
                itemBuilder: (_) => [
                  const PopupMenuItem(value: 'rename', child: Text('Rename')),
                  const PopupMenuItem(value: 'client', child: Text('Client')),
                  PopupMenuItem(
                    value: 'archive',
                    child: Text(p.archived ? 'Unarchive' : 'Archive'),
                  ),
                  const PopupMenuItem(value: 'delete', child: Text('Delete')),
                ],
              ),
            ),
        ],
      ),
      floatingActionButton: FloatingActionButton(
        tooltip: 'Add project',
        onPressed: () => _add(context),
        child: const Icon(Icons.add),
      ),
    );
  }

  Future<void> _add(BuildContext context) async {
    final name = await askText(context, 'Project name', null);
    if (name == null || name.isEmpty || !context.mounted) return;
    await guarded(context, () async {
      await core.addProject(
        project: NewProjectInput(
          name: name,
          billable: true,
          rounding: const RoundingRule(mode: RoundingMode.none, minutes: 0),
        ),
      );
      await reload();
    });
  }

  Future<void> _act(BuildContext context, ProjectInfo p, String action) async {
    switch (action) {
      case 'rename':
        final name = await askText(context, 'Project name', p.name);
        if (name == null || name.isEmpty || !context.mounted) return;
        await guarded(context, () async {
          await core.editProject(
              key: p.id, change: ProjectChangeInput(name: name, clearClient: false));
          await reload();
        });
      case 'client':
        final client = await askText(context, 'Client (empty for none)', p.client);
        if (client == null || !context.mounted) return;
        await guarded(context, () async {
          await core.editProject(
            key: p.id,
            change: ProjectChangeInput(
              client: client.isEmpty ? null : client,
              clearClient: client.isEmpty,
            ),
          );
          await reload();
        });
      case 'archive':
        await guarded(context, () async {
          await core.archiveProject(key: p.id, archived: !p.archived);
          await reload();
        });
      case 'delete':
        try {
          await core.deleteProject(key: p.id);
          await reload();
        } on ApiError catch (e) {
          if (!context.mounted) return;
          if (e.kind != ApiErrorKind.inUse) {
            showError(context, e);
            return;
          }
          ScaffoldMessenger.of(context).showSnackBar(SnackBar(
            content: Text(e.message),
            action: p.archived
                ? null
                : SnackBarAction(
                    label: 'Archive',
                    onPressed: () => guarded(context, () async {
                      await core.archiveProject(key: p.id, archived: true);
                      await reload();
                    }),
                  ),
          ));
        }
    }
  }
}
