# Included by the `tsan` configure preset through CMAKE_PROJECT_INCLUDE (at the end of
# project(), before any target exists): links tsan_c11_threads.cpp into every target, so that
# ThreadSanitizer sees the threads and locks of librdkafka (C11 <threads.h>, not intercepted by
# gcc 12's or clang 14's TSan). Not used by any other build.
add_library(mlops_tsan_c11_threads OBJECT ${CMAKE_CURRENT_LIST_DIR}/tsan_c11_threads.cpp)
link_libraries(mlops_tsan_c11_threads)
