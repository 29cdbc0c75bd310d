#pragma once

//! \file frameguard.h Counts coroutine frames alive in a test: put a FrameGuard in each
//! coroutine under test, and g_liveFrames returns to zero once every frame is destroyed.

namespace loopscope::testsupport {

//! Coroutine frames alive (a guard constructed in each frame, destroyed with it).
inline int g_liveFrames = 0;

struct FrameGuard
{
    FrameGuard() { ++g_liveFrames; }
    ~FrameGuard() { --g_liveFrames; }
    FrameGuard(const FrameGuard &) = delete;
    FrameGuard &operator=(const FrameGuard &) = delete;
};

} // namespace loopscope::testsupport
