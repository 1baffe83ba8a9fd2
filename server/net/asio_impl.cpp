// The one translation unit that compiles Boost.Asio, Asio SSL and Beast (separate compilation):
// every other file only includes their headers, which keeps the 2-core build fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
