// The Flutter activity; it reuses the engine TachoEngine may already have
// started for a Bluetooth event, so the process keeps one TachoCore.
package app.tacho

import android.content.Context
import io.flutter.embedding.android.FlutterActivity
import io.flutter.embedding.engine.FlutterEngine

class MainActivity : FlutterActivity() {
    override fun provideFlutterEngine(context: Context): FlutterEngine =
        TachoEngine.engine(context)

    // The engine outlives the activity: trips keep recording after the UI closes.
    override fun shouldDestroyEngineWithHost(): Boolean = false
}
