/* keys.h - the screen's actions and the keys bound to them, as X-macros.
 *
 * Each action is defined once: the enum, its ':' command name and its help
 * line come from TUI_ACTIONS; the key table and the help screen both come
 * from TUI_BINDINGS, so the help cannot drift from what the keys do.
 *
 * A key is a character (a wide character, or a control character such as
 * TK_CTRL('r')), or a curses function key wrapped in TK_FN(KEY_UP). */
#ifndef GRAFT_KEYS_H
#define GRAFT_KEYS_H

#define TK_FN_BIT  0x1000000
#define TK_FN(k)   (TK_FN_BIT | (k))
#define TK_CTRL(c) ((c)&0x1f)
#define TK_ESC     27

/* A(ID, command name, section, help) */
#define TUI_ACTIONS(A)                                                                             \
	A(MOVE_UP, "move-up", "Moving", "Move the cursor up")                                      \
	A(MOVE_DOWN, "move-down", "Moving", "Move the cursor down")                                \
	A(PAGE_UP, "page-up", "Moving", "Move up one screen")                                      \
	A(PAGE_DOWN, "page-down", "Moving", "Move down one screen")                                \
	A(FIRST, "first", "Moving", "Go to the first row")                                         \
	A(LAST, "last", "Moving", "Go to the last row")                                            \
	A(SEARCH, "search", "Moving",                                                              \
	  "Search names and types as you type (a dot: paths; *, ?, [: find's selectors)")         \
	A(SEARCH_NEXT, "search-next", "Moving", "Go to the next match")                            \
	A(SEARCH_PREV, "search-prev", "Moving", "Go to the previous match")                        \
	A(TOGGLE, "toggle", "Tree", "Expand or collapse the module")                               \
	A(EXPAND, "expand", "Tree", "Expand the module, or go to its first child")                 \
	A(COLLAPSE, "collapse", "Tree", "Collapse the module, or go to its parent")                \
	A(EXPAND_ALL, "expand-all", "Tree", "Expand every module")                                 \
	A(COLLAPSE_ALL, "collapse-all", "Tree", "Collapse everything below the top level")         \
	A(DEPTH, "depth", "Tree", "Show the tree down to that depth (0: the model alone)")         \
	A(MARK, "mark", "Tree",                                                                    \
	  "Mark or unmark the module; a command with {} runs once for each marked module")         \
	A(UNMARK_ALL, "unmark-all", "Tree", "Unmark every module")                                 \
	A(DETAILS, "details", "View",                                                              \
	  "Show or hide the details: attributes, tensors with statistics, shapes")                 \
	A(ACTIVATIONS, "activations", "View",                                                      \
	  "Run the model once on a random input; the details show each output's statistics")       \
	A(DRIFT, "drift", "View",                                                                  \
	  "Run the model as opened and as edited on one random input; the details show each "      \
	  "module's drift")                                                                        \
	A(DETAILS_DOWN, "details-down", "View", "Scroll the details down")                         \
	A(DETAILS_UP, "details-up", "View", "Scroll the details up")                               \
	A(METRIC, "metric", "View",                                                                \
	  "Bar and sort by parameters, then mult-adds, then activation memory")                    \
	A(SORT, "sort", "View", "Order siblings by the bar's measure, or as in the model")         \
	A(FUNCTIONS, "functions", "View",                                                          \
	  "Show the forward's function nodes (add, cat...) as rows, or hide them")                 \
	A(HELP, "help-screen", "View", "Show this help")                                           \
	A(REDRAW, "redraw", "View", "Redraw the screen")                                           \
	A(COMMAND, "command", "Editing", "Type a command (Tab completes, Esc goes back)")          \
	A(REPLACE, "replace-row", "Editing", "Replace the module (':replace PATH ')")              \
	A(INSERT, "insert-row", "Editing", "Insert a module after it (':insert after PATH ')")     \
	A(SET, "set-row", "Editing", "Change its attributes (':set PATH ')")                       \
	A(DELETE, "delete-row", "Editing", "Delete it (':delete PATH', Enter confirms)")           \
	A(FREEZE, "freeze-row", "Editing", "Freeze or unfreeze its parameters")                    \
	A(DIFF, "diff", "Editing", "Show what changed since the model was opened")                 \
	A(UNDO, "undo", "Editing", "Undo the last change")                                         \
	A(REDO, "redo", "Editing", "Redo the last change undone")                                  \
	A(SAVE, "save-prompt", "Editing", "Save (':save PATH', Enter confirms)")                   \
	A(QUIT, "quit", "Editing", "Quit (asks first when there are unsaved changes)")             \
	A(SUSPEND, "suspend", "Editing", "Suspend graft (the shell's fg resumes it)")

enum tui_action {
#define TUI_ACTION_ENUM(id, name, section, help) ACT_##id,
	TUI_ACTIONS(TUI_ACTION_ENUM)
#undef TUI_ACTION_ENUM
	    ACT_COUNT
};

/* B(key, label, ACTION); a NULL label keeps the key out of the help (the
 * digits show once, as "0-9"). */
#define TUI_BINDINGS(B)                                                                            \
	B('k', "k", MOVE_UP)                                                                       \
	B(TK_FN(KEY_UP), "Up", MOVE_UP)                                                            \
	B('j', "j", MOVE_DOWN)                                                                     \
	B(TK_FN(KEY_DOWN), "Down", MOVE_DOWN)                                                      \
	B(TK_FN(KEY_PPAGE), "PgUp", PAGE_UP)                                                       \
	B(TK_CTRL('b'), "C-b", PAGE_UP)                                                            \
	B(TK_FN(KEY_NPAGE), "PgDn", PAGE_DOWN)                                                     \
	B(TK_CTRL('f'), "C-f", PAGE_DOWN)                                                          \
	B('g', "g", FIRST)                                                                         \
	B(TK_FN(KEY_HOME), "Home", FIRST)                                                          \
	B('G', "G", LAST)                                                                          \
	B(TK_FN(KEY_END), "End", LAST)                                                             \
	B('/', "/", SEARCH)                                                                        \
	B('n', "n", SEARCH_NEXT)                                                                   \
	B('N', "N", SEARCH_PREV)                                                                   \
	B('\r', "Enter", TOGGLE)                                                                   \
	B('\n', NULL, TOGGLE)                                                                      \
	B(TK_FN(KEY_ENTER), NULL, TOGGLE)                                                          \
	B(' ', "Space", TOGGLE)                                                                    \
	B('l', "l", EXPAND)                                                                        \
	B(TK_FN(KEY_RIGHT), "Right", EXPAND)                                                       \
	B('h', "h", COLLAPSE)                                                                      \
	B(TK_FN(KEY_LEFT), "Left", COLLAPSE)                                                       \
	B('*', "*", EXPAND_ALL)                                                                    \
	B('-', "-", COLLAPSE_ALL)                                                                  \
	B('0', "0-9", DEPTH)                                                                       \
	B('1', NULL, DEPTH)                                                                        \
	B('2', NULL, DEPTH)                                                                        \
	B('3', NULL, DEPTH)                                                                        \
	B('4', NULL, DEPTH)                                                                        \
	B('5', NULL, DEPTH)                                                                        \
	B('6', NULL, DEPTH)                                                                        \
	B('7', NULL, DEPTH)                                                                        \
	B('8', NULL, DEPTH)                                                                        \
	B('9', NULL, DEPTH)                                                                        \
	B('m', "m", MARK)                                                                          \
	B('M', "M", UNMARK_ALL)                                                                    \
	B('i', "i", DETAILS)                                                                       \
	B('A', "A", ACTIVATIONS)                                                                   \
	B('c', "c", DRIFT)                                                                         \
	B('J', "J", DETAILS_DOWN)                                                                  \
	B('K', "K", DETAILS_UP)                                                                    \
	B('b', "b", METRIC)                                                                        \
	B('S', "S", SORT)                                                                          \
	B('f', "f", FUNCTIONS)                                                                     \
	B('?', "?", HELP)                                                                          \
	B(TK_FN(KEY_F(1)), "F1", HELP)                                                             \
	B(TK_CTRL('l'), "C-l", REDRAW)                                                             \
	B(':', ":", COMMAND)                                                                       \
	B('r', "r", REPLACE)                                                                       \
	B('a', "a", INSERT)                                                                        \
	B('e', "e", SET)                                                                           \
	B('D', "D", DELETE)                                                                        \
	B('F', "F", FREEZE)                                                                        \
	B('d', "d", DIFF)                                                                          \
	B('u', "u", UNDO)                                                                          \
	B(TK_CTRL('r'), "C-r", REDO)                                                               \
	B('s', "s", SAVE)                                                                          \
	B('q', "q", QUIT)                                                                          \
	B(TK_CTRL('c'), NULL, QUIT)                                                                \
	B(TK_CTRL('z'), "C-z", SUSPEND)

#endif
