// jido-kernel-lua: a code cell whose source starts with %%lua is edited as Lua
// (text/x-lua, in JupyterLab's language registry), and goes back to the notebook's
// language when the magic goes away. Cells are checked when a notebook opens, when
// cells are added, when a cell's source changes, and when the notebook resets the
// cells' language (a kernel change).
import { INotebookTracker } from '@jupyterlab/notebook';

const LUA = 'text/x-lua';
const LUA_CELL = /^\s*%%lua\b/;

/** The language a code cell of `panel` should be edited in. */
function wanted(panel, cell) {
  const lua = LUA_CELL.test(cell.sharedModel.getSource().slice(0, 256));
  return lua ? LUA : panel.content.codeMimetype;
}

function check(panel, cell) {
  if (cell.type !== 'code') {
    return;
  }
  const mimeType = wanted(panel, cell);
  if (cell.mimeType !== mimeType) {
    cell.mimeType = mimeType;
  }
}

function watchCell(panel, cell) {
  if (cell.type !== 'code' || cell.__jidoWatched) {
    return;
  }
  cell.__jidoWatched = true;
  cell.contentChanged.connect(() => check(panel, cell));
  cell.mimeTypeChanged.connect(() => check(panel, cell));
  check(panel, cell);
}

function watchNotebook(panel) {
  const attach = () => {
    const model = panel.content.model;
    if (!model) {
      return;
    }
    for (const cell of model.cells) {
      watchCell(panel, cell);
    }
    model.cells.changed.connect((_, change) => {
      for (const cell of change.newValues) {
        watchCell(panel, cell);
      }
    });
  };
  panel.content.modelChanged.connect(attach);
  panel.context.ready.then(attach);
  attach();
}

const plugin = {
  id: 'jido-kernel-lua:plugin',
  description: 'Edit %%lua cells as Lua.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, tracker) => {
    tracker.forEach(watchNotebook);
    tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
  }
};

export default plugin;
