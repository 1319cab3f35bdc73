import 'package:build_tool/build_tool.dart' as build_tool;

void main(List<String> arguments) {
  build_tool.runMain(arguments);
}
