#pragma once

//! \file loopscope.h Everything of the Loopscope engine in one include.

#include "loopscope/awaitable.h"
#include "loopscope/clock.h"
#include "loopscope/coro.h"
#include "loopscope/errors.h"
#include "loopscope/eventloop.h"
#include "loopscope/future.h"
#include "loopscope/gather.h"
#include "loopscope/handle.h"
#include "loopscope/locks.h"
#include "loopscope/observer.h"
#include "loopscope/qtinterop.h"
#include "loopscope/queue.h"
#include "loopscope/sleep.h"
#include "loopscope/sourcelocation.h"
#include "loopscope/task.h"
#include "loopscope/taskgroup.h"
#include "loopscope/timeout.h"
#include "loopscope/wait.h"
