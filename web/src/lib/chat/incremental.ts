/**
 * Renders a growing Markdown text without parsing all of it again on every frame:
 * finished blocks (ended by a blank line outside a code fence, with the next block
 * starting at the margin) are rendered once and kept; only the unfinished tail is
 * rendered again. The final answer is rendered whole once it is complete.
 *
 * The tail may have its own, cheaper renderer: the chat highlights code in finished blocks
 * only, so a code block still being written is shown plain and not highlighted per token.
 */
const LIST_ITEM = /^([-*+]|\d{1,9}[.)])(\s|$)/;

export class IncrementalMarkdown {
  /** HTML of the finished blocks, in order; earlier entries never change. */
  readonly blocks: string[] = [];
  private rendered = 0; // source characters already in blocks
  private scanned = 0; // source characters looked at for boundaries
  private inFence = false;
  private afterBlank = false;

  /**
   * @param render renders a finished block (once)
   * @param renderTail renders the unfinished tail (on every update); default: `render`
   */
  constructor(
    private readonly render: (markdown: string) => string,
    private readonly renderTail: (markdown: string) => string = render,
  ) {}

  /** Takes the whole text so far (it only grows); returns the HTML of the unfinished tail. */
  update(text: string): string {
    let boundary = this.rendered;
    for (let end = text.indexOf('\n', this.scanned); end !== -1; end = text.indexOf('\n', this.scanned)) {
      const line = text.slice(this.scanned, end);
      if (/^ {0,3}(```|~~~)/.test(line)) this.inFence = !this.inFence;
      if (!this.inFence && line.trim() === '') this.afterBlank = true;
      else {
        // A block at the margin after a blank line starts a new, independent block.
        // (Not before a list item: it may belong to the list above.)
        if (this.afterBlank && !/^\s/.test(line) && !LIST_ITEM.test(line)) boundary = this.scanned;
        this.afterBlank = false;
      }
      this.scanned = end + 1;
    }
    if (boundary > this.rendered) {
      this.blocks.push(this.render(text.slice(this.rendered, boundary)));
      this.rendered = boundary;
    }
    return this.renderTail(text.slice(this.rendered));
  }
}
